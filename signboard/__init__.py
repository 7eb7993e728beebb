"""The hall's LED signboard: a long chain of MAX7219 modules scrolling the notice and each call."""
