"""Commissioning a touch screen: five targets (four corners and the middle), each must be touched.

A target touched turns green; a screen mounted upside down or a panel whose axes are swapped
shows at once (the wrong target lights, or none). Drawn with pygame on the box's display.
"""

from __future__ import annotations

import time

TARGETS = ("top left", "top right", "middle", "bottom left", "bottom right")


def target_rects(width: int, height: int, size: int):
    import pygame

    m = size // 2
    centres = [(m, m), (width - m, m), (width // 2, height // 2), (m, height - m), (width - m, height - m)]
    return {name: pygame.Rect(cx - m, cy - m, size, size) for name, (cx, cy) in zip(TARGETS, centres)}


def run_touch_test(width: int, height: int, fullscreen: bool, wait_s: float, events=None) -> list[str]:
    """Returns the targets not touched within ``wait_s``. ``events`` replaces pygame's queue in tests."""
    import pygame

    pygame.display.init()
    pygame.font.init()
    try:
        flags = pygame.FULLSCREEN if fullscreen else 0
        screen = pygame.display.set_mode((width, height), flags)
        w, h = screen.get_size()
        rects = target_rects(w, h, max(80, min(w, h) // 6))
        touched: set[str] = set()
        font = pygame.font.Font(None, max(24, h // 30))
        deadline = time.monotonic() + wait_s
        while len(touched) < len(rects) and time.monotonic() < deadline:
            screen.fill((255, 255, 255))
            for name, r in rects.items():
                pygame.draw.rect(screen, (40, 170, 80) if name in touched else (200, 40, 40), r)
            msg = font.render(f"Touch each square ({len(touched)}/{len(rects)})", True, (0, 0, 0))
            screen.blit(msg, msg.get_rect(center=(w // 2, h // 2 + rects["middle"].height)))
            pygame.display.flip()
            for event in (events() if events else pygame.event.get()):
                if event.type == pygame.FINGERDOWN:
                    pos = (int(event.x * w), int(event.y * h))
                elif event.type == pygame.MOUSEBUTTONDOWN and event.button == 1:
                    pos = event.pos
                else:
                    continue
                touched |= {name for name, r in rects.items() if r.collidepoint(pos)}
            time.sleep(0.02)
        return [name for name in rects if name not in touched]
    finally:
        pygame.display.quit()
