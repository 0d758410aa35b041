"""svgrl.rl"""
