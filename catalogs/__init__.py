"""Instance-type and price catalogs (CSV), one per cloud."""
