"""The announcer: Vietnamese calls through the amplifier, in order, never overlapping.

numbers.py and phrases.py say what is spoken, queue.py in which order, voicepack.py
and audio.py how it sounds, amplifier.py when the relay is on; service.py wires
them to MQTT and __main__.py is ``motcua-announcer``. See docs/announcer.md.
"""
