"""The dossier-progress screen ("Màn hình thông báo tình hình giải quyết TTHC") on a hall TV."""
