from tests.standins import ensure_cache

print(ensure_cache())
