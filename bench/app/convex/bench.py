"""Functions measured by bench/engine.py."""

from pyconvex import mutation, query, v


@mutation(args={"body": v.string()})
async def insert(ctx, body):
    return await ctx.db.insert("docs", {"body": body})


@mutation
async def noop(ctx):
    return None


@mutation(args={"id": v.id("counters")})
async def bump(ctx, id):
    doc = await ctx.db.get(id)
    await ctx.db.patch(id, {"value": doc["value"] + 1})


@mutation
async def make_counter(ctx):
    return await ctx.db.insert("counters", {"value": 0})


@query
async def latest(ctx):
    """The query every fan-out subscriber shares: the newest 10 documents."""
    return await ctx.db.query("docs").order("desc").take(10)


@mutation(args={"n": v.number()})
async def schedule_noops(ctx, n):
    for _ in range(int(n)):
        await ctx.scheduler.run_after(0, "bench:noop_write", {})


@mutation
async def noop_write(ctx):
    return None
