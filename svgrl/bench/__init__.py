"""svgrl.bench"""
