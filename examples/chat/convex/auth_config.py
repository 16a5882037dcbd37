from pyconvex.auth import auth_config_provider

# The deployment accepts the tokens it signs (pyconvex.auth), found on its own site URL.
providers = [auth_config_provider()]
