"""SESSION_ENGINE: Django's database sessions, stored in UserSession with their owner's id."""

import base64
import secrets
from datetime import datetime
from functools import cache

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.base import CreateError, UpdateError
from django.contrib.sessions.backends.db import SessionStore as DBStore
from django.db import IntegrityError, connections, router
from django.utils import timezone

from accounts.services.sessions import TABLE, sessions_end
from accounts.services.setsql import row_insert_sql, row_values

# Session keys under which the login flow leaves where the session came from.
SESSION_IP_KEY = "_prahari_ip"
SESSION_UA_KEY = "_prahari_ua"
# Every save rewrites the whole row, so the start time travels inside the session data.
SESSION_CREATED_KEY = "_prahari_created"
SESSION_DEVICE_KEY = "_prahari_device"  # the RegisteredDevice this session is bound to
SESSION_PASSKEY_KEY = "_prahari_passkey"  # the passkey that opened it (revoking the passkey ends the session)
_LOAD = f"SELECT session_data FROM {TABLE} WHERE session_key = %s AND expire_date > %s LIMIT 1"  # noqa: S608


class SessionStore(DBStore):
    _insert_on_save = False  # set by cycle_key: the new key has no row yet
    _written: bytes | None = None  # the data of this store's last write (serialised), to skip repeating it

    @classmethod
    def get_model_class(cls):
        from accounts.models import UserSession

        return UserSession

    def create_model_instance(self, data):
        created = data.setdefault(SESSION_CREATED_KEY, timezone.now().isoformat())
        obj = super().create_model_instance(data)
        obj.created_at = datetime.fromisoformat(created)
        user_id = data.get(SESSION_KEY)
        try:
            obj.user_id = int(user_id) if user_id is not None else None
        except (TypeError, ValueError):
            obj.user_id = None
        obj.device_id = data.get(SESSION_DEVICE_KEY)
        obj.passkey_id = data.get(SESSION_PASSKEY_KEY)
        obj.ip_address = data.get(SESSION_IP_KEY)
        obj.user_agent = (data.get(SESSION_UA_KEY) or "")[:200]
        return obj

    def load(self):
        """The session's data, or {} (and no key) when it has no row or has expired.

        Django's load reads the whole row through `get()`; only the data column is read here, in a
        written-out statement (every request of a session makes it: the ORM took longer to build it
        than the database to answer).
        """
        found = None
        if self.session_key:
            with connections[router.db_for_read(self.model)].cursor() as cursor:
                cursor.execute(_LOAD, [self.session_key, timezone.now()])
                found = cursor.fetchone()
        if not found:
            self._session_key = None
            return {}
        return self.decode(found[0])

    def _get_new_session_key(self):
        # 168 random bits from one read of the OS's generator, as 34 characters a-z and 2-7 (Django's
        # 32 characters from 36, 165 bits, cost a read per character). A collision is not worth a query
        # per new session: if one ever happens, the INSERT fails and Django's create() retries.
        return base64.b32encode(secrets.token_bytes(21)).decode().rstrip("=").lower()

    def delete(self, session_key=None):
        # One DELETE (Django's default reads the row first, then deletes it).
        if session_key is None:
            if self.session_key is None:
                return
            session_key = self.session_key
        sessions_end(keys=[session_key])

    def cycle_key(self):
        """A new key for the same data, written once: the old row goes now, the new one with the response.

        Django's cycle_key INSERTs a row for the new key at once, and the session middleware UPDATEs
        that row again with what the view went on to store (at login: the user, device and times).
        Here the new key is chosen at once (`session_key` names it from now on) and the one save that
        follows INSERTs it. If the request never saves (a 5xx), the old key is gone all the same.
        """
        data = self._session
        key = self.session_key
        self._session_key = self._get_new_session_key()
        self._session_cache = data
        if key and not self._insert_on_save:  # else the old key has no row (yet) to delete
            self.delete(key)
        self._insert_on_save = True
        self.modified = True

    def end_sessions_of(self, user_id: int) -> int:
        """Delete every session of `user_id`, and this session's own row, in one statement; return how
        many of the user's ended. This session is then written anew by its next save.

        Before a login: the rotation that follows (`cycle_key`) finds no row of its own left to delete.
        """
        ended = sessions_end(users=[user_id], keys=[self.session_key] if self.session_key else [])
        self._insert_on_save = True
        self.modified = True
        return ended.get(user_id, 0)

    def save(self, must_create=False):
        """Write the session: INSERT a new key (after `cycle_key`), else UPDATE its row (`_write`).

        A write that would repeat this store's last one (same data) is skipped: the login writes the
        new session inside its own transaction, and the session middleware's save after it has nothing
        left to write. The statement runs alone, without the transaction Django wraps it in (BEGIN …
        COMMIT in autocommit, a savepoint inside the caller's): in autocommit it is one by itself, and
        inside the login's a failed INSERT (a random key already taken, never seen) fails the login as
        a whole rather than be retried, so nothing of it is half written.
        """
        if self.session_key is None:
            return self.create()
        insert = must_create or self._insert_on_save
        data = self._get_session(no_load=insert)
        if not insert and self._written is not None and self._written == self.serializer().dumps(data):
            return None
        obj = self.create_model_instance(data)
        using = router.db_for_write(self.model, instance=obj)
        try:
            _write(obj, insert=insert, using=using)
        except IntegrityError:
            if not insert or connections[using].in_atomic_block:
                raise
            if must_create:
                raise CreateError from None
            self._insert_on_save = False
            return self.create()  # the key cycle_key chose was taken meanwhile: another one
        self._insert_on_save = False
        self._written = self.serializer().dumps(data)
        return None


# An anonymous session's row (a visitor's language, a login waiting for its code) written in autocommit
# commits without waiting for the disk: `set_config(…, true)` lasts the statement's own transaction, and the
# RETURNING makes PostgreSQL evaluate it. A crash may lose the last such rows, and the person starts again
# (the password step again: it fails closed). A signed-in session's row, and any row written inside a
# caller's transaction (the login's), commit as everything else does.
_RELAXED = "WITH relaxed AS (SELECT set_config('synchronous_commit', 'off', true) AS c) "
_RELAXED_RETURNING = " RETURNING (SELECT c FROM relaxed)"


@cache
def _statements(model, *, relaxed: bool) -> tuple[list, str, str]:
    """The session row's fields and the INSERT and UPDATE (by key) that write all of them, built once."""
    fields, insert = row_insert_sql(model)
    key = model._meta.pk.column
    assignments = ", ".join(f"{field.column} = %s" for field in fields if field.column != key)
    update = f"UPDATE {model._meta.db_table} SET {assignments} WHERE {key} = %s"  # noqa: S608 (the model's names)
    if relaxed:
        insert, update = (f"{_RELAXED}{sql}{_RELAXED_RETURNING}" for sql in (insert, update))
    return fields, insert, update


def _write(obj, *, insert: bool, using: str) -> None:
    """Write the row `obj` in one written-out statement, each value prepared as the ORM's save prepares
    it (`auto_now` included); an UPDATE that finds no row raises UpdateError. An anonymous row written
    in autocommit does not wait for the disk (`_RELAXED`).

    The ORM built the same INSERT or UPDATE anew at every save (twice per login).
    """
    connection = connections[using]
    relaxed = obj.user_id is None and not connection.in_atomic_block
    fields, insert_sql, update_sql = _statements(type(obj), relaxed=relaxed)
    values = row_values(obj, fields, add=insert, using=using)
    with connection.cursor() as cursor:
        if insert:
            cursor.execute(insert_sql, values)
            return
        key = next(i for i, field in enumerate(fields) if field.primary_key)
        cursor.execute(update_sql, values[:key] + values[key + 1 :] + [values[key]])
        if cursor.rowcount == 0:
            raise UpdateError  # the row is gone (ended meanwhile): the middleware says so
