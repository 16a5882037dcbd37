"""Channels: a few are made on first use so the page has somewhere to talk."""

from pyconvex import ConvexError, mutation, v

from ._security import secure_query, viewer

DEFAULT_CHANNELS = ("general", "random")


@secure_query(args={})
async def list(ctx):
    """The public channels and the private ones the caller is a member of."""
    return await ctx.db.query("channels").with_index("by_name").collect()


@mutation(args={"name": v.string(), "members": v.array(v.string())}, returns=v.id("channels"))
async def create_private(ctx, name, members):
    """A channel only ``members`` (identity subjects, the caller included) see."""
    me = await viewer(ctx)
    if me is None:
        raise ConvexError({"code": "SignInFirst", "message": "Private channels need a signed-in user."})
    name = name.strip().lower()
    if not name or len(name) > 40:
        raise ConvexError({"code": "BadChannelName", "message": "1 to 40 characters"})
    return await ctx.db.insert("channels", {"name": name, "members": sorted({me, *members})})


@mutation(args={"name": v.string()}, returns=v.id("channels"))
async def create(ctx, name):
    name = name.strip().lower()
    if not name or len(name) > 40:
        raise ConvexError({"code": "BadChannelName", "message": "1 to 40 characters"})
    existing = await ctx.db.query("channels").with_index("by_name", lambda q: q.eq("name", name)).first()
    if existing is not None:
        return existing["_id"]
    return await ctx.db.insert("channels", {"name": name})


@mutation(args={})
async def ensure_defaults(ctx):
    """Idempotent: every page load calls it; only the first creates anything."""
    for name in DEFAULT_CHANNELS:
        found = (
            await ctx.db.query("channels")
            .with_index("by_name", lambda q, n=name: q.eq("name", n))
            .first()
        )
        if found is None:
            await ctx.db.insert("channels", {"name": name})
