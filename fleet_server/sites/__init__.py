"""Sites stored by the server: imported maps, their floor plans, and parsed-site caching."""
