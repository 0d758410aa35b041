"""svgrl.rewards"""
