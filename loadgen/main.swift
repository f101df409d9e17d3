import MTCP
print("mtcp-loadgen: not built yet")
