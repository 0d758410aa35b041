"""svgrl.model"""
