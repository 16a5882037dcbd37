"""The functions bench/secure.py measures: the same query with and without row-level
security, and the same mutation with and without a sharded rate limit."""

from pyconvex import mutation, query, v
from pyconvex.helpers import custom_ctx, custom_query, wrap_database_reader
from pyconvex.ratelimit import SECOND, RateLimiter


async def _channel_public(ctx, doc):
    channel = await ctx.db.get(doc["channelId"])
    return channel is not None and channel["public"]


field_rules = {"items": {"read": lambda ctx, doc: doc["owner"] != "nobody"}}
reading_rules = {"items": {"read": _channel_public}}

field_query = custom_query(query, custom_ctx(
    lambda ctx: {"db": wrap_database_reader(ctx, ctx.db, field_rules)}))
reading_query = custom_query(query, custom_ctx(
    lambda ctx: {"db": wrap_database_reader(ctx, ctx.db, reading_rules)}))

limiter = RateLimiter({
    "hot": {"kind": "token bucket", "rate": 1000, "period": SECOND, "capacity": 200, "shards": 64},
    # the same limit, too wide to bind: every call consumes a token and inserts, so the
    # ratio is the limiter's own cost, not refusals (which commit nothing) making it cheaper
    "open": {"kind": "token bucket", "rate": 10**9, "period": SECOND, "capacity": 10**9,
             "shards": 64},
})


@mutation(args={"n": v.number()})
async def populate(ctx, n):
    channels = [await ctx.db.insert("channels", {"public": True}) for _ in range(10)]
    for i in range(int(n)):
        await ctx.db.insert("items", {"channelId": channels[i % 10], "owner": "ann", "n": i})


@query(args={})
async def plain(ctx):
    return len(await ctx.db.query("items").collect())


@field_query(args={})
async def with_field_rule(ctx):
    return len(await ctx.db.query("items").collect())


@reading_query(args={})
async def with_reading_rule(ctx):
    return len(await ctx.db.query("items").collect())


@mutation(args={"client": v.number()})
async def unlimited(ctx, client):
    await ctx.db.insert("admitted", {"client": client, "now": ctx.now()})
    return True


async def _consume_then_insert(ctx, client, name):
    result = await limiter.limit(ctx, name)
    if result.ok:
        await ctx.db.insert("admitted", {"client": client, "now": ctx.now()})
    return result.ok


@mutation(args={"client": v.number()})
async def limited(ctx, client):
    return await _consume_then_insert(ctx, client, "hot")


@mutation(args={"client": v.number()})
async def limited_open(ctx, client):
    return await _consume_then_insert(ctx, client, "open")


@query(args={"cursor": v.union(v.string(), v.null())})
async def admitted_times(ctx, cursor):
    """One page of the admitted calls' times (a result holds at most 8,192 values)."""
    page = await ctx.db.query("admitted").paginate({"numItems": 4000, "cursor": cursor})
    return {"times": [d["now"] for d in page["page"]], "isDone": page["isDone"],
            "continueCursor": page["continueCursor"]}
