"""The link between the halls and the province's one-stop software (Hệ thống thông tin giải quyết TTHC)."""
