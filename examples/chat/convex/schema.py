from pyconvex import define_schema, define_table, v

schema = define_schema({
    "channels": define_table({"name": v.string()}).index("by_name", ["name"]),
    "messages": define_table({
        "channelId": v.id("channels"),
        "author": v.string(),
        "body": v.string(),
    }).index("by_channel", ["channelId"]),
})
