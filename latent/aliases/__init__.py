"""Aliases: second names for collections, switched atomically; `Store.collection` resolves them."""

from latent.aliases.crud import (
    AliasRecord,
    check_alias_name,
    delete_alias,
    get_alias,
    list_aliases,
    set_alias,
)

__all__ = ["AliasRecord", "check_alias_name", "delete_alias", "get_alias", "list_aliases", "set_alias"]
