from pyconvex.auth import auth_config_provider

# {"domain": CONVEX_SITE_URL, "applicationID": "convex"}: the deployment accepts the
# tokens it signs itself, finding its keys on its own site URL.
providers = [auth_config_provider()]
