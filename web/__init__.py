"""The hall on a web page: the manager's console and the citizen's queue page (``motcua-web``)."""
