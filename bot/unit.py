"""One message's unit of work: a database transaction, with an ORM session only if needed."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession


class UnitOfWork:
    """The transaction a message runs in; ``session`` is made on first use and joins it.

    Most messages (menus, options, opening hours) never touch the ORM, and making and closing a
    session per message cost a quarter of the pipeline's time.
    """

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection
        self._session: AsyncSession | None = None

    @property
    def session(self) -> AsyncSession:
        """An ORM session inside this transaction; it never commits on its own."""
        if self._session is None:
            # Bound to a connection already in a transaction, the session joins it and leaves
            # committing to the pipeline. rollback_only: in a group commit's savepoint, the
            # default would open a savepoint of its own that closing the session rolls back,
            # taking the message's later writes with it.
            self._session = AsyncSession(
                bind=self.connection, expire_on_commit=False, join_transaction_mode="rollback_only"
            )
        return self._session

    async def flush(self) -> None:
        """Send the session's pending changes, before the transaction commits."""
        if self._session is not None:
            await self._session.flush()

    async def close(self) -> None:
        """Let go of the session (the transaction is committed or rolled back by its owner)."""
        if self._session is not None:
            await self._session.close()
            self._session = None
