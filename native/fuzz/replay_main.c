/* Replays fuzz inputs through a libFuzzer target without libFuzzer (any compiler): each argument is a
 * file or a folder of files; every file is one input. CTest runs it over native/fuzz/corpus/<target>/,
 * so inputs that once found a bug stay fixed in every build. Exit status 0 when every input ran. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerInitialize(int* argc, char*** argv);
int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

static int one(const char* path) {
  FILE* f = fopen(path, "rb");
  if (f == NULL) {
    fprintf(stderr, "cannot read %s\n", path);
    return 1;
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t* data = malloc(n > 0 ? (size_t)n : 1);
  size_t got = fread(data, 1, (size_t)n, f);
  fclose(f);
  LLVMFuzzerTestOneInput(data, got);
  free(data);
  return 0;
}

int main(int argc, char** argv) {
  LLVMFuzzerInitialize(&argc, &argv);
  int inputs = 0, errors = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      fprintf(stderr, "no such file or folder: %s\n", argv[i]);
      errors++;
    } else if (S_ISDIR(st.st_mode)) {
      DIR* d = opendir(argv[i]);
      for (struct dirent* e; d != NULL && (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
        errors += one(path);
        inputs++;
      }
      if (d != NULL) closedir(d);
    } else {
      errors += one(argv[i]);
      inputs++;
    }
  }
  printf("replayed %d inputs\n", inputs);
  return errors == 0 && inputs > 0 ? 0 : 1;
}
