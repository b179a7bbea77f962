"""Clean, extract and export stages: HTML -> Article -> Facts -> tables."""
