"""Messages of a channel: live, newest first, paginated."""

from pyconvex import ConvexError, mutation, pagination_opts_validator, query, v

MAX_BODY = 2000


@query(args={"channelId": v.id("channels"), "paginationOpts": pagination_opts_validator})
async def list(ctx, channelId, paginationOpts):
    return await (
        ctx.db.query("messages")
        .with_index("by_channel", lambda q: q.eq("channelId", channelId))
        .order("desc")
        .paginate(paginationOpts)
    )


@mutation(args={"channelId": v.id("channels"), "author": v.string(), "body": v.string()},
          returns=v.id("messages"))
async def send(ctx, channelId, author, body):
    body = body.strip()
    author = author.strip() or "anonymous"
    if not body:
        raise ConvexError({"code": "EmptyMessage", "message": "Type something first."})
    if len(body) > MAX_BODY:
        raise ConvexError({"code": "TooLong", "message": f"At most {MAX_BODY} characters."})
    if await ctx.db.get(channelId) is None:
        raise ConvexError({"code": "NoSuchChannel", "message": "That channel is gone."})
    return await ctx.db.insert("messages", {"channelId": channelId, "author": author[:40], "body": body})


@mutation(args={"id": v.id("messages")})
async def remove(ctx, id):
    """Delete a message (the page's × button). Deleting one already gone does nothing."""
    if await ctx.db.get(id) is not None:
        await ctx.db.delete(id)
