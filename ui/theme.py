"""A dark, high-contrast theme that reads well on an operating-room monitor."""

from __future__ import annotations

from PyQt6.QtGui import QColor, QFont, QPalette
from PyQt6.QtWidgets import QApplication

from surgery_teach.media.health import Health

BACKGROUND = "#0d1117"
PANEL = "#161b22"
TEXT = "#f0f6fc"
MUTED = "#9da7b3"
ACCENT = "#2f81f7"
WARNING = "#e3b341"  # amber: something to check (damaged cases, patient details)
HEALTH_COLOURS = {
    Health.GOOD: "#3fb950",
    Health.FAIR: "#d29922",
    Health.POOR: "#f85149",
    Health.UNKNOWN: "#9da7b3",
}

STYLE_SHEET = f"""
QWidget {{ background: {BACKGROUND}; color: {TEXT}; font-size: 15px; }}
QFrame#panel, QListWidget, QTextEdit, QPlainTextEdit, QLineEdit, QComboBox, QSpinBox {{
    background: {PANEL}; border: 1px solid #30363d; border-radius: 6px; padding: 4px;
}}
QPushButton, QToolButton {{
    background: #21262d; border: 1px solid #3d444d; border-radius: 6px;
    padding: 8px 14px; font-weight: 600;
}}
QPushButton:hover, QToolButton:hover {{ border-color: {ACCENT}; }}
QPushButton:checked, QToolButton:checked {{ background: #8b1d1d; border-color: #f85149; }}
QPushButton:disabled, QToolButton:disabled, QCheckBox:disabled, QLineEdit:disabled,
QComboBox:disabled {{ color: #6e7681; background: #161b22; border-color: #21262d; }}
QPushButton#tool:checked {{ background: #1f6feb; border-color: #58a6ff; }}
QToolButton#disclosure, QToolButton#disclosure:checked {{ background: transparent;
    border: none; padding: 4px 0; color: {MUTED}; }}
QToolButton#disclosure:hover {{ color: {TEXT}; }}
QCheckBox::indicator {{ width: 18px; height: 18px; border: 2px solid #8b949e;
    border-radius: 4px; background: #0d1117; }}
QCheckBox::indicator:checked {{ background: {ACCENT}; border-color: #58a6ff; }}
QPushButton#primary {{ background: #238636; border-color: #2ea043; }}
QPushButton#danger {{ background: #8b1d1d; border-color: #f85149; }}
QLabel#title {{ font-size: 24px; font-weight: 700; }}
QLabel#error {{ color: #ff7b72; font-weight: 600; }}
QLabel#banner {{ background: #9e6a03; color: #ffffff; font-weight: 700; padding: 6px; }}
QLabel#alarm {{ background: #b62324; color: #ffffff; font-weight: 700; padding: 6px; }}
QLabel#recording {{ background: #da3633; color: #ffffff; font-weight: 700; padding: 6px 12px;
    border-radius: 6px; }}
QPushButton#record:checked {{ background: #da3633; border-color: #ff7b72; }}
QLabel#muted {{ color: {MUTED}; }}
"""


def apply_theme(app: QApplication) -> None:
    app.setStyle("Fusion")
    palette = QPalette()
    palette.setColor(QPalette.ColorRole.Window, QColor(BACKGROUND))
    palette.setColor(QPalette.ColorRole.WindowText, QColor(TEXT))
    palette.setColor(QPalette.ColorRole.Base, QColor(PANEL))
    # alternating rows (the chat) stay dark: Fusion's default is near white, under white text
    palette.setColor(QPalette.ColorRole.AlternateBase, QColor("#1c2128"))
    palette.setColor(QPalette.ColorRole.Text, QColor(TEXT))
    palette.setColor(QPalette.ColorRole.Button, QColor("#21262d"))
    palette.setColor(QPalette.ColorRole.ButtonText, QColor(TEXT))
    palette.setColor(QPalette.ColorRole.Highlight, QColor(ACCENT))
    app.setPalette(palette)
    app.setStyleSheet(STYLE_SHEET)
    font = QFont(app.font())
    font.setFamilies(["Noto Sans", "Noto Sans CJK SC", "DejaVu Sans"])
    app.setFont(font)
