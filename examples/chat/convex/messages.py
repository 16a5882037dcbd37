"""Messages of a channel: live, newest first, paginated; under the rules of
``_security.py`` (members read, authors edit and delete, sending rate-limited)."""

from pyconvex import ConvexError, pagination_opts_validator, v
from pyconvex.auth import get_auth_user_id

from ._security import limiter, secure_mutation, secure_query, viewer

MAX_BODY = 2000


def _check_body(body):
    if not body:
        raise ConvexError({"code": "EmptyMessage", "message": "Type something first."})
    if len(body) > MAX_BODY:
        raise ConvexError({"code": "TooLong", "message": f"At most {MAX_BODY} characters."})


@secure_query(args={"channelId": v.id("channels"), "paginationOpts": pagination_opts_validator})
async def list(ctx, channelId, paginationOpts):
    return await (
        ctx.db.query("messages")
        .with_index("by_channel", lambda q: q.eq("channelId", channelId))
        .order("desc")
        .paginate(paginationOpts)
    )


@secure_mutation(args={"channelId": v.id("channels"), "author": v.string(), "body": v.string()},
                 returns=v.id("messages"))
async def send(ctx, channelId, author, body):
    body = body.strip()
    author = author.strip()[:40] or "anonymous"
    _check_body(body)
    if await ctx.db.get(channelId) is None:  # gone, or not a member's
        raise ConvexError({"code": "NoSuchChannel", "message": "That channel is gone."})
    subject = await viewer(ctx)
    await limiter.limit(ctx, "send", key=f"{channelId}:{subject or author}", throws=True)
    message = {"channelId": channelId, "author": author, "body": body}
    if subject is not None:
        message["authorSubject"] = subject
    user_id = await get_auth_user_id(ctx)
    if user_id is not None:  # signed in: the message names its user, shown by their name
        user = await ctx.db.get(user_id)
        message["userId"] = user_id
        message["author"] = (user or {}).get("name") or (user or {}).get("email") or author
    return await ctx.db.insert("messages", message)


@secure_mutation(args={"id": v.id("messages"), "body": v.string()})
async def edit(ctx, id, body):
    """Change a message's text: its author only (ForbiddenError otherwise)."""
    body = body.strip()
    _check_body(body)
    await ctx.db.patch(id, {"body": body})


@secure_mutation(args={"id": v.id("messages")})
async def remove(ctx, id):
    """Delete a message (the page's × button): its author only. Deleting one already
    gone (or not visible) does nothing."""
    if await ctx.db.get(id) is not None:
        await ctx.db.delete(id)
