"""The two bases of the client's shapes: answers tolerate new fields, inputs refuse unknown ones."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Answer(BaseModel):
    """A shape the server sends: fields a newer server adds are kept, not refused."""

    model_config = ConfigDict(extra="allow")


class Input(BaseModel):
    """A shape the client sends: a typo in a field name is an error here, as on the server."""

    model_config = ConfigDict(extra="forbid")
