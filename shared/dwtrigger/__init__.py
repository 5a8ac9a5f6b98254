"""dwtrigger: release DataWorks HTTP trigger nodes from OSS, MNS and timer events."""
