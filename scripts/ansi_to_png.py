#!/usr/bin/env python3
"""Renders a terminal capture with colours (`tmux capture-pane -e -p`) to a PNG.

Usage: ansi_to_png.py CAPTURE.txt OUT.png COLUMNS ROWS   (needs Pillow and DejaVu fonts)
Handles the SGR codes tmux emits: 16/256/true colours, bold, dim, reverse, strikeout.
"""
import re
import sys

from PIL import Image, ImageDraw, ImageFont

FONT_DIR = "/usr/share/fonts/truetype/dejavu/"
SIZE = 15
PAD = 14
BG, FG = (30, 31, 41), (220, 223, 228)
# A dark palette: black red green yellow blue magenta cyan white, then the bright ones.
BASIC = [
    (40, 42, 54), (255, 85, 85), (80, 250, 123), (241, 250, 140),
    (98, 114, 164), (255, 121, 198), (139, 233, 253), (191, 191, 191),
    (98, 104, 128), (255, 110, 110), (105, 255, 148), (255, 255, 165),
    (130, 150, 230), (255, 146, 223), (164, 255, 255), (255, 255, 255),
]


def xterm256(n):
    if n < 16:
        return BASIC[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return (steps[n // 36], steps[n // 6 % 6], steps[n % 6])
    v = 8 + (n - 232) * 10
    return (v, v, v)


def parse(text, columns, rows):
    """A grid of (char, fg, bg, bold, dim, strike) cells."""
    grid = [[(" ", FG, BG, False, False, False)] * columns for _ in range(rows)]
    for y, line in enumerate(text.split("\n")[:rows]):
        fg = bg = None
        bold = dim = reverse = strike = False
        x = 0
        for part in re.split(r"(\x1b\[[0-9;]*m)", line):
            if part.startswith("\x1b["):
                codes = [int(c) if c else 0 for c in part[2:-1].split(";")]
                i = 0
                while i < len(codes):
                    c = codes[i]
                    if c == 0:
                        fg = bg = None
                        bold = dim = reverse = strike = False
                    elif c == 1: bold = True
                    elif c == 2: dim = True
                    elif c == 7: reverse = True
                    elif c == 9: strike = True
                    elif c == 22: bold = dim = False
                    elif c == 27: reverse = False
                    elif c == 29: strike = False
                    elif 30 <= c <= 37: fg = BASIC[c - 30]
                    elif 90 <= c <= 97: fg = BASIC[c - 90 + 8]
                    elif 40 <= c <= 47: bg = BASIC[c - 40]
                    elif 100 <= c <= 107: bg = BASIC[c - 100 + 8]
                    elif c == 39: fg = None
                    elif c == 49: bg = None
                    elif c in (38, 48):
                        if codes[i + 1] == 5:
                            color, i = xterm256(codes[i + 2]), i + 2
                        else:
                            color, i = tuple(codes[i + 2:i + 5]), i + 4
                        if c == 38: fg = color
                        else: bg = color
                    i += 1
                continue
            for ch in part:
                if x < columns:
                    f, b = (fg or FG), (bg or BG)
                    if reverse:
                        f, b = b, f
                    grid[y][x] = (ch, f, b, bold, dim, strike)
                x += 1
    return grid


def render(grid, out):
    regular = ImageFont.truetype(FONT_DIR + "DejaVuSansMono.ttf", SIZE)
    bold = ImageFont.truetype(FONT_DIR + "DejaVuSansMono-Bold.ttf", SIZE)
    fallback = ImageFont.truetype(FONT_DIR + "DejaVuSans.ttf", SIZE - 2)
    cw = round(regular.getlength("M"))
    ch = round(SIZE * 1.35)
    rows, columns = len(grid), len(grid[0])
    img = Image.new("RGB", (columns * cw + 2 * PAD, rows * ch + 2 * PAD), BG)
    draw = ImageDraw.Draw(img)
    for y, row in enumerate(grid):
        for x, (c, fg, bg, is_bold, dim, strike) in enumerate(row):
            left, top = PAD + x * cw, PAD + y * ch
            if dim:
                fg = tuple((a + b) // 2 for a, b in zip(fg, bg))
            if bg != BG:
                draw.rectangle([left, top, left + cw - 1, top + ch - 1], fill=bg)
            if "\u2581" <= c <= "\u2588":  # block elements: drawn to fill the cell exactly
                h = round(ch * (ord(c) - 0x2580) / 8)
                draw.rectangle([left, top + ch - h, left + cw - 1, top + ch - 1], fill=fg)
            elif c != " ":
                font = fallback if c in "⚠" else (bold if is_bold else regular)
                draw.text((left, top + 2), c, font=font, fill=fg)
            if strike:
                draw.line([left, top + ch // 2, left + cw, top + ch // 2], fill=fg)
    img.save(out)


if __name__ == "__main__":
    capture, out, columns, rows = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    with open(capture, encoding="utf-8") as f:
        render(parse(f.read(), columns, rows), out)
