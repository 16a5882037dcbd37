from pyconvex import define_schema, define_table, v
from pyconvex.ratelimit import rate_limit_tables

schema = define_schema({
    **rate_limit_tables,
    "channels": define_table({"public": v.boolean()}),
    "items": define_table({"channelId": v.id("channels"), "owner": v.string(), "n": v.number()}),
    "admitted": define_table({"client": v.number(), "now": v.number()}),
})
