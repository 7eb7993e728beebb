"""``motcua demo``: the whole hall on one box (every daemon, emulated hardware, a narrated day).

It stands above every daemon package and the shared one, so it lives in its own top-level
package: the shared package ``motcua`` never imports a daemon. The subcommand reaches
``motcua`` through the ``motcua.commands`` entry point (see :mod:`hall_demo.cli`).
"""
