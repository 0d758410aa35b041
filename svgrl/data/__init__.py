"""svgrl.data"""
