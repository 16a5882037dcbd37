"""The signed-in user (pyconvex.auth), for the page's "signed in as"."""

from pyconvex import query
from pyconvex.auth import get_auth_user_id


@query(args={})
async def me(ctx):
    user_id = await get_auth_user_id(ctx)
    return None if user_id is None else await ctx.db.get(user_id)
