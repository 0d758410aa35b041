"""svgrl.svg"""
