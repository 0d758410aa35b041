"""svgrl.train"""
