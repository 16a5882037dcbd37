from pyconvex import define_schema, define_table, v

schema = define_schema(
    {
        "posts": define_table({"channel": v.string(), "body": v.string()}).index(
            "by_channel", ["channel"]
        ),
    }
)
