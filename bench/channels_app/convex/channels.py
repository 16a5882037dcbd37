"""Functions for the benchmarks of live subscriptions (bench/wire.py f, bench/peer.py):
posts in channels; each subscriber watches one channel."""

from pyconvex import mutation, query, v


@mutation(args={"channel": v.string(), "body": v.string()})
async def post(ctx, channel, body):
    return await ctx.db.insert("posts", {"channel": channel, "body": body})


@query(args={"channel": v.string(), "n": v.optional(v.number())})
async def latest(ctx, channel, n=10):
    """The channel's newest ``n`` posts."""
    return (
        await ctx.db.query("posts")
        .with_index("by_channel", lambda q: q.eq("channel", channel))
        .order("desc")
        .take(int(n))
    )
