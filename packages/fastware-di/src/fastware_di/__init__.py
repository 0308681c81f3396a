"""fastware-di: dependency injection for fastware routes.

Routes declare dependencies by name (0.6.3's ``deps={"db": get_db}``) or by parameter
(``db: Annotated[DB, Depends(get_db)]``). Factories may be sync or async functions or
generators, may depend on other factories, and may be app-scoped::

    from typing import Annotated
    from fastware import Router, create_app
    from fastware_di import Depends, dependency

    @dependency(scope="app")
    async def get_pool():
        pool = await open_pool()
        yield pool
        await pool.close()

    async def get_db(pool: Annotated[Pool, Depends(get_pool)]):
        async with pool.transaction() as tx:
            yield tx

    router = Router()

    @router.get("/users")
    async def users(request, db: Annotated[Tx, Depends(get_db)]):
        return await db.fetch_users()

``fastware.create_app`` wires a :class:`DependencyResolver` into every app; with
fastware-core alone pass ``create_app(router, injector=DependencyResolver())``.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from ._signature import injected_parameters
from .exceptions import DependencyError
from .markers import (
    Dependency,
    DependencyOptions,
    Depends,
    Scope,
    dependency,
)
from .overrides import DependencyOverrides
from .resolver import DependencyResolver

try:
    __version__ = version("fastware-di")
except PackageNotFoundError:  # pragma: no cover - running from an uninstalled tree
    __version__ = "0.0.0"

__all__ = (
    "Dependency",
    "DependencyError",
    "DependencyOptions",
    "DependencyOverrides",
    "DependencyResolver",
    "Depends",
    "Scope",
    "__version__",
    "dependency",
    "injected_parameters",
)
