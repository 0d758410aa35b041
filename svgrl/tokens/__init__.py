"""svgrl.tokens"""
