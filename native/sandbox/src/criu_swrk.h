#ifndef HIVELAB_CRIU_SWRK_H
#define HIVELAB_CRIU_SWRK_H
/* hivelab-sandbox --criu-swrk: one CRIU service worker kept ready for one restore (criu_swrk.c). */
int criu_swrk_main(int argc, char **argv);
#endif
