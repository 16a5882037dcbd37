from pyconvex.auth import Password, convex_auth


def profile(params, ctx):
    """What the sign-up form sets on the user (the users table's fields)."""
    return {"email": params["email"], **({"name": params["name"]} if params.get("name") else {})}


auth, sign_in, sign_out, store = configured = convex_auth(providers=[Password(profile=profile)])
# auth:isAuthenticated, as Convex Auth exports it (frameworks ask it whether a token counts).
is_authenticated = configured.is_authenticated
