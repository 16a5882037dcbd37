from pyconvex import ConvexError, mutation, query, v
from pyconvex.auth import get_auth_user_id


@query
async def me(ctx):
    """The signed-in user, or None."""
    user_id = await get_auth_user_id(ctx)
    return None if user_id is None else await ctx.db.get(user_id)


@query
async def mine(ctx):
    """The signed-in user's notes: private data, empty for a signed-out page."""
    user_id = await get_auth_user_id(ctx)
    if user_id is None:
        return []
    notes = ctx.db.query("notes").with_index("by_user", lambda q: q.eq("userId", user_id))
    return [n["text"] for n in await notes.collect()]


@mutation(args={"text": v.string()})
async def add(ctx, text):
    user_id = await get_auth_user_id(ctx)
    if user_id is None:
        raise ConvexError("Sign in to write notes.")
    if not text.strip():
        raise ConvexError("Type something first.")
    return await ctx.db.insert("notes", {"userId": user_id, "text": text.strip()})
