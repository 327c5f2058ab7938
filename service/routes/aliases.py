"""Aliases (set, get, list, delete) and the reindex job that builds a collection and switches one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response, status

from latent.aliases import check_alias_name, delete_alias, get_alias, list_aliases, set_alias
from latent.jobs import JobContext
from latent.reindex import load_gate, reindex
from service.auth import Read, Write
from service.deps import CollectionDep, JobsDep, StoreDep, require_scope
from service.schemas.aliases import AliasesPublic, AliasPublic, AliasUpdate, ReindexCreate
from service.schemas.jobs import JobPublic

router = APIRouter(tags=["aliases"])


@router.get("/v1/aliases", name="list", dependencies=[Read])
def list_all(store: StoreDep) -> AliasesPublic:
    data = [AliasPublic.of(r) for r in list_aliases(store)]
    return AliasesPublic(data=data, count=len(data))


@router.get("/v1/aliases/{alias}", name="get", dependencies=[Read])
def get_one(alias: str, store: StoreDep) -> AliasPublic:
    return AliasPublic.of(get_alias(store, alias))


@router.put("/v1/aliases/{alias}", name="set", dependencies=[Write])
def put(alias: str, body: AliasUpdate, store: StoreDep) -> AliasPublic:
    """Create the alias or switch it, atomically: a search sees the old collection or the new one."""
    return AliasPublic.of(set_alias(store, alias, body.collection))


@router.delete("/v1/aliases/{alias}", name="delete", status_code=status.HTTP_204_NO_CONTENT, dependencies=[Write])
def delete(alias: str, store: StoreDep) -> Response:
    """Delete the alias; its collection stays."""
    delete_alias(store, alias)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/v1/collections/{name}/reindex", name="reindex", status_code=status.HTTP_202_ACCEPTED, dependencies=[Write]
)
def start_reindex(
    request: Request, body: ReindexCreate, collection: CollectionDep, store: StoreDep, jobs: JobsDep
) -> JobPublic:
    """Start a reindex job (`latent reindex` over HTTP); its result is the report: both nDCG@10, the decision."""
    if body.gate is not None:
        require_scope(request, "admin")  # it reads a folder on the server's disk
        load_gate(Path(body.gate), body.split)  # a wrong folder is a 400 now, not a failed job later
    if body.alias is not None:
        check_alias_name(store, body.alias)
    params = body.model_dump()
    source = collection.name

    def work(ctx: JobContext) -> dict[str, Any]:
        gate = Path(params["gate"]) if params["gate"] else None
        options = {k: v for k, v in params.items() if k not in ("into", "gate")}
        report = reindex(
            store,
            source,
            params["into"],
            gate_folder=gate,
            progress=ctx.progress,
            should_stop=ctx.should_stop,
            **options,
        )
        return report.as_dict()

    return JobPublic.of(jobs.submit("reindex", work, {"collection": source, **params}, collection_id=collection.id))
