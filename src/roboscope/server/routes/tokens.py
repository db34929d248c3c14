"""API token management over HTTP (admin scope): what `roboscope tokens` does on the server
machine, for an operator elsewhere."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from ...services import tokens
from ...wire.errors import ConflictError, NotFoundError
from ...wire.tokens import ApiToken, ApiTokenCreate, ApiTokenCreated, ApiTokenRevoked
from ..auth import Caller
from ..deps import DB, State
from ..responses import wire

router = APIRouter(prefix="/tokens", tags=["tokens"])


@router.get("", response_model=list[ApiToken])
async def list_tokens(caller: Caller, db: DB) -> Response:
    """Every token, revoked and expired ones too; never a secret."""
    return wire(await tokens.list_tokens(db, caller))


@router.post(
    "",
    response_model=ApiTokenCreated,
    status_code=201,
    responses={409: {"model": ConflictError, "description": "The name is taken."}},
)
async def create_token(caller: Caller, db: DB, body: ApiTokenCreate) -> Response:
    """The answer's `token` is the secret, shown this once (only its hash is stored)."""
    return wire(await tokens.create(db, caller, body), status_code=201)


@router.delete(
    "/{name_or_id}",
    response_model=ApiTokenRevoked,
    responses={404: {"model": NotFoundError, "description": "No such token."}},
)
async def revoke_token(caller: Caller, state: State, name_or_id: str) -> Response:
    """Revoke by name or id. Every server process is told and confirms (within 2 s) before
    the answer: from then on requests with it get 401 and its live streams have ended, on
    every process. `propagation` names any process that did not confirm."""
    return wire(await tokens.revoke(state.database, state.revocations, caller, name_or_id))
