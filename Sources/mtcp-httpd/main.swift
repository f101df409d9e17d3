import MTCP
print("mtcp-httpd: not built yet")
