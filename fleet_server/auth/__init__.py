"""Authentication and authorisation: passwords, access tokens, API tokens, roles per site, audit."""
