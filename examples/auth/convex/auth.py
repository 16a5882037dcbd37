import os

from pyconvex.auth import OIDC, Password, convex_auth


def profile(params, ctx):
    """What the sign-up form sets on the user (the users table's fields)."""
    return {"email": params["email"], **({"name": params["name"]} if params.get("name") else {})}


providers = [Password(profile=profile)]
if os.environ.get("AUTH_OIDC_ISSUER"):
    # Any OpenID Connect provider (in dev, a local one): client id and secret come from
    # AUTH_OIDC_ID and AUTH_OIDC_SECRET; register <CONVEX_SITE_URL>/api/auth/callback/oidc.
    providers.append(OIDC(id="oidc", issuer=os.environ["AUTH_OIDC_ISSUER"]))

auth, sign_in, sign_out, store = configured = convex_auth(providers=providers)
# auth:isAuthenticated, as Convex Auth exports it (frameworks ask it whether a token counts).
is_authenticated = configured.is_authenticated
