"""Who may read and change what, and how fast one may send: the builders the chat's
functions are made with (docs/security.md).

- Channels without ``members`` are public; a channel with ``members`` (identity
  subjects) and its messages are visible to those members only.
- A message sent by a signed-in caller records ``authorSubject`` (their user id with
  pyconvex.auth) and ``userId``: only that caller may edit or delete it. Guests (not
  signed in) still chat; their messages carry no subject and stay editable by anyone.
- Sending is rate-limited per author and channel: a burst of 60, then one a second.
"""

from pyconvex import mutation, query
from pyconvex.auth import get_auth_user_id
from pyconvex.helpers import (
    custom_ctx,
    custom_mutation,
    custom_query,
    wrap_database_reader,
    wrap_database_writer,
)
from pyconvex.ratelimit import MINUTE, RateLimiter


async def viewer(ctx):
    """Who is asking: the ``users`` id of someone signed in with pyconvex.auth (the same
    across their sessions), else the identity's subject (another provider), else None."""
    user_id = await get_auth_user_id(ctx)
    if user_id is not None:
        return user_id
    identity = await ctx.auth.get_user_identity()
    return identity["subject"] if identity else None


async def can_see_channel(ctx, channel):
    if channel is None:
        return False
    members = channel.get("members")
    return members is None or await viewer(ctx) in members


async def can_see_message(ctx, message):
    return await can_see_channel(ctx, await ctx.db.get(message["channelId"]))


async def is_author(ctx, message):
    subject = message.get("authorSubject")
    return subject is None or subject == await viewer(ctx)


rules = {
    "channels": {"read": can_see_channel},
    "messages": {"read": can_see_message, "insert": can_see_message, "modify": is_author},
}

secure_query = custom_query(query, custom_ctx(
    lambda ctx: {"db": wrap_database_reader(ctx, ctx.db, rules)}))
secure_mutation = custom_mutation(mutation, custom_ctx(
    lambda ctx: {"db": wrap_database_writer(ctx, ctx.db, rules)}))

limiter = RateLimiter({
    "send": {"kind": "token bucket", "rate": 60, "period": MINUTE, "capacity": 60},
})
