"""``auth_tables``: the tables Convex Auth keeps, with the same names, fields and indexes.

Spread them into the schema (``define_schema({**auth_tables, ...})``). Because they match
``authTables`` of ``@convex-dev/auth`` field for field, a snapshot exported from a Convex
deployment using Convex Auth imports into pyconvex (and back) with its users, accounts
and sessions intact. To add fields to ``users``, define the table yourself with these
fields plus yours, and keep the ``email`` and ``phone`` indexes, which account linking
reads.
"""

from __future__ import annotations

from pyconvex.schema import TableDefinition, define_table, v

USERS = "users"
SESSIONS = "authSessions"
ACCOUNTS = "authAccounts"
REFRESH_TOKENS = "authRefreshTokens"
VERIFICATION_CODES = "authVerificationCodes"
VERIFIERS = "authVerifiers"
RATE_LIMITS = "authRateLimits"

auth_tables: dict[str, TableDefinition] = {
    USERS: define_table({
        "name": v.optional(v.string()),
        "image": v.optional(v.string()),
        "email": v.optional(v.string()),
        "emailVerificationTime": v.optional(v.number()),
        "phone": v.optional(v.string()),
        "phoneVerificationTime": v.optional(v.number()),
        "isAnonymous": v.optional(v.boolean()),
    }).index("email", ["email"]).index("phone", ["phone"]),
    # One user may hold several sessions (one per signed-in device).
    SESSIONS: define_table({
        "userId": v.id(USERS),
        "expirationTime": v.number(),
    }).index("userId", ["userId"]),
    # One account per (provider, id at that provider); a user may link several.
    ACCOUNTS: define_table({
        "userId": v.id(USERS),
        "provider": v.string(),
        "providerAccountId": v.string(),
        "secret": v.optional(v.string()),
        "emailVerified": v.optional(v.string()),
        "phoneVerified": v.optional(v.string()),
    }).index("userIdAndProvider", ["userId", "provider"])
      .index("providerAndAccountId", ["provider", "providerAccountId"]),
    # Refresh tokens form a tree per session: each exchange creates a child of the token
    # exchanged (parentRefreshTokenId), which is how reuse is detected.
    REFRESH_TOKENS: define_table({
        "sessionId": v.id(SESSIONS),
        "expirationTime": v.number(),
        "firstUsedTime": v.optional(v.number()),
        "parentRefreshTokenId": v.optional(v.id(REFRESH_TOKENS)),
    }).index("sessionId", ["sessionId"])
      .index("sessionIdAndParentRefreshTokenId", ["sessionId", "parentRefreshTokenId"]),
    # One-time codes (email/phone codes, magic links, OAuth hand-back codes), stored hashed.
    VERIFICATION_CODES: define_table({
        "accountId": v.id(ACCOUNTS),
        "provider": v.string(),
        "code": v.string(),
        "expirationTime": v.number(),
        "verifier": v.optional(v.string()),
        "emailVerified": v.optional(v.string()),
        "phoneVerified": v.optional(v.string()),
    }).index("accountId", ["accountId"]).index("code", ["code"]),
    # OAuth sign-ins in flight: the client holds the id, the callback brings the signature.
    VERIFIERS: define_table({
        "sessionId": v.optional(v.id(SESSIONS)),
        "signature": v.optional(v.string()),
    }).index("signature", ["signature"]),
    # Failed sign-in attempts left per account (or email/phone) and per client address
    # ("ip:<address>"), refilled over an hour (rate_limits.py).
    RATE_LIMITS: define_table({
        "identifier": v.string(),
        "lastAttemptTime": v.number(),
        "attemptsLeft": v.number(),
    }).index("identifier", ["identifier"]),
}
