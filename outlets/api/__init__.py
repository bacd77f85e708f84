"""API of the outlets app (mounted under /api/v1/ by ``outlets.api_urls``): outlets and their
status, applications, staff, stock, agreements, training and the dashboard."""
