"""A hall's boxes from a blank SD card: roles, provisioning bundles, releases and updates.

* ``roles.toml``: what each kind of box needs (extra, settings, Debian packages, groups).
* ``bundle``: ``motcua box bundle ROLE ID``, the folder a technician copies to a box.
* ``release``: the central box's releases (a signed wheelhouse) and the server boxes update from.
* ``update``: ``motcua-update`` on a box: side by side, switch, roll back when unhealthy.
"""
