from pyconvex import define_schema, define_table, v
from pyconvex.auth import auth_tables
from pyconvex.ratelimit import rate_limit_tables

schema = define_schema({
    **auth_tables,
    **rate_limit_tables,
    "channels": define_table({
        "name": v.string(),
        "members": v.optional(v.array(v.string())),  # identity subjects; absent: public
    }).index("by_name", ["name"]),
    "messages": define_table({
        "channelId": v.id("channels"),
        "author": v.string(),
        "body": v.string(),
        "authorSubject": v.optional(v.string()),  # the signed-in sender, who alone may edit
        "userId": v.optional(v.id("users")),  # the sender's user, when signed in (pyconvex.auth)
    }).index("by_channel", ["channelId"]),
})
