"""Instance catalogs: offers (instance type, accelerators, size, price, place) read from CSV."""
